// Bundled once by esbuild into dist/sdk.js: the imperative API of the official JS SDK.
export { Reactor } from "@reactor-team/js-sdk";
