// The package loaded through require() (Node >= 20.19 loads ES modules synchronously).
const root = require("spacemesh-poet-client");
const testing = require("spacemesh-poet-client/testing");
const proto = require("spacemesh-poet-client/proto");
if (typeof root.RegistrationManager !== "function")
  throw new Error("require: no RegistrationManager");
if (typeof testing.startMockPoet !== "function") throw new Error("require: no startMockPoet");
if (proto.PoetService === undefined) throw new Error("require: no PoetService");
console.log("consumer: require() loads the root, testing and proto entry points");
