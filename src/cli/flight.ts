#!/usr/bin/env node
/** `flight VERB ...`: see src/cli/verbs.ts. */
import { runMain } from './main.js';
import { runFlight } from './verbs.js';

runMain(() => runFlight(process.argv.slice(2)));
