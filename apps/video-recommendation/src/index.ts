/**
 * Case study 5, homepage video recommendations. The CaseStudy object (CLI registration) comes with the
 * service in a later step; for now the app exports its world, loaders, evaluation and models.
 */

export * from './baseline.js';
export * from './data.js';
export * from './evaluate.js';
export * from './mf.js';
export * from './movielens.js';
