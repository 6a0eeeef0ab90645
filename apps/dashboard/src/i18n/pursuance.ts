/** Words of the dashboard's pursuance area (see index.ts). */
export const pursuance = {
  en: {},
  es: {},
};
