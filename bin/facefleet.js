#!/usr/bin/env node
'use strict';
// libuv's pool is sized (cores + 4, unless UV_THREADPOOL_SIZE is set) before anything touches it.
require('../dist/src/lifecycle/thread-pool.js').sizeThreadPool();
// bench and chaos are tooling: built into dist/tools in a source checkout, absent from an image, which
// ships the product only (the CLI then says they need a checkout).
const tools = require('node:path').join(__dirname, '..', 'dist', 'tools', 'commands', 'index.js');
require('../dist/src/cli/main.js').main(process.argv, require('node:fs').existsSync(tools) ? require(tools).TOOL_COMMANDS : {});
