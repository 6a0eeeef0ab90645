import { createApp } from 'vue';
import App from './App.vue';
import { APP, createAppContext } from './lib/context.js';
import './styles.css';

const ctx = createAppContext();
const app = createApp(App);
app.provide(APP, ctx);
app.use(ctx.router);
app.use(ctx.i18n);
app.mount('#app');
