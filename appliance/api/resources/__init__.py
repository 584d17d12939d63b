"""One module per REST resource group; each class has falcon on_get/on_post/... responders."""
