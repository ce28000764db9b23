/** Every kernel wrapper, for users who compose their own models. */
export * from './matmul.ts';
export * from './layernorm.ts';
export * from './softmax.ts';
export * from './attention.ts';
export * from './gelu.ts';
export * from './residual.ts';
export * from './embedding.ts';
export * from './crossentropy.ts';
export * from './adamw.ts';
export * from './gradnorm.ts';
