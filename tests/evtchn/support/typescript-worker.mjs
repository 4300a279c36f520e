// Entry for worker threads that run TypeScript: registers tsx's loader in this thread (Node 20
// does not hand a parent's loader hooks or `--import` to workers), then loads the real module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
