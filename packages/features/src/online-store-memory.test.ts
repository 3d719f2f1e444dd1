/** The online store contract against the in-memory backend. */
import { describe } from 'vitest';
import { createMemoryOnlineStore } from './index.js';
import { onlineStoreContract } from './online-store.contract.js';

describe('memory online store', () => {
  onlineStoreContract(async (views) => createMemoryOnlineStore({ views }));
});
