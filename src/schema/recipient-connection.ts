import { connectionTypes } from './connection.js';
import { Recipient } from './recipient.js';

export const { EdgeType: RecipientEdge, ConnectionType: RecipientConnection } = connectionTypes('Recipient', Recipient);
export type RecipientConnection = InstanceType<typeof RecipientConnection>;
