"""The Reactor client: the public class, its event emitter and the machine driver."""
