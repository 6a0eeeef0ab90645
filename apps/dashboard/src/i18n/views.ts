/** Words of the dashboard's views area (see index.ts). */
export const views = {
  en: {},
  es: {},
};
