export * from './configuration';
export * from './layer';
export * from './leakwatch';
