/** Words of the dashboard's invite area (see index.ts). */
export const invite = {
  en: {},
  es: {},
};
