// /api?f=html: Swagger UI on this service's own OpenAPI document (no online validator: it would call out).
/* global SwaggerUIBundle */
const element = document.getElementById('swagger-ui');
window.ui = SwaggerUIBundle({ url: element.dataset.url, domNode: element, validatorUrl: null, deepLinking: true, tryItOutEnabled: false });
