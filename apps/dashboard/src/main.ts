import { createApp } from 'vue';
import App from './App.vue';
import { APP, createAppContext } from './lib/context.js';
import './styles.css';

const app = createApp(App);
app.provide(APP, createAppContext());
app.mount('#app');
