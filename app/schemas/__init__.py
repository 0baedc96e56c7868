"""The request and response models, one module per resource of app/api/: validation and the OpenAPI
document come from here."""
