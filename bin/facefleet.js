#!/usr/bin/env node
'use strict';
// Decodes and file reads share libuv's thread pool. The engine runs at most one decode per core
// (`decodeSlots`), so a pool four threads larger always has room for reads and writes. Set before
// anything touches the pool; an operator's own UV_THREADPOOL_SIZE wins.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(require('node:os').availableParallelism() + 4);
// bench and chaos are tooling: built into dist/tools in a source checkout, absent from an image, which
// ships the product only (the CLI then says they need a checkout).
const tools = require('node:path').join(__dirname, '..', 'dist', 'tools', 'commands', 'index.js');
require('../dist/src/cli/main.js').main(process.argv, require('node:fs').existsSync(tools) ? require(tools).TOOL_COMMANDS : {});
