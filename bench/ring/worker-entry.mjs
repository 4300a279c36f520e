// Worker threads do not inherit the TypeScript loader of the thread that starts them (Node 20),
// so each worker registers tsx itself before importing its TypeScript program.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.program);
