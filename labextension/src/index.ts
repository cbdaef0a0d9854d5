import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:plugin',
  description: 'Real-time collaboration through jupyter-collab rooms.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('jupyter-collab is activated');
  }
};

export default plugin;
