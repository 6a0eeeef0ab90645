import { SetMetadata } from '@nestjs/common';

export const SERVED_WHILE_STARTING = 'pursuance:served-while-starting';

/**
 * Marks a route that answers while the node is still starting (its API listens before its
 * pursuances are loaded): reads served from the persisted read models or from what is open
 * before loading. Any other route answers 503 NODE_STARTING until start-up is over.
 */
export const ServedWhileStarting = (): MethodDecorator => SetMetadata(SERVED_WHILE_STARTING, true);
