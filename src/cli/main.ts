#!/usr/bin/env node
/**
 * The `poet-client` command line.
 */
console.log(`spacemesh-poet-client: the PoET client of a Spacemesh node.
Registers challenges with PoET servers, keeps state in SQLite, downloads and verifies proofs.
The demo and the CLI commands are being built; see README.md.`);
