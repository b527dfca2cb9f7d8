"""Pure logic: KPI extraction and aggregation, comparisons, narrative. No IO here."""
