"""The model: plain torch networks, the LightningModule that trains them, the layer table and parameter budget."""
