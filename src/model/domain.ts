/** The domain of podpattern's annotation and label keys, and the API group of PatternTemplate. */
export const DOMAIN = 'podpattern.dev';
