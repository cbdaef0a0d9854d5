import './base.css';
import './panel.css';
import './history.css';
import './sharing.css';
import './comments.css';
import './notifications.css';
