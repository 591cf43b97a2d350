"""Generated protobuf modules of the v1 wire (``bash scripts/gen_proto.sh``); do not edit."""
