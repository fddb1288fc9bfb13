import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from './paths.js';

export const VERSION: string = (createRequire(import.meta.url)(path.join(ROOT, 'package.json')) as { version: string }).version;
