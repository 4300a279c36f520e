import { selectedBackends } from './backends.ts';
import { describeClientSuite } from './client-suite.ts';

for (const backend of await selectedBackends()) describeClientSuite(backend);
