"""Pictures: learning curves, confusion matrices, forecasts (matplotlib, Agg backend)."""
