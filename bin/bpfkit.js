#!/usr/bin/env node
import '../dist/src/cli/node_main.js';
