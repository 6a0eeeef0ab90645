/** Words of the dashboard's common area (see index.ts). */
export const common = {
  en: {},
  es: {},
};
