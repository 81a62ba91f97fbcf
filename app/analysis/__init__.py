"""What the data says: hot spots and emerging hot spots, early-warning alerts, monthly evaluation (KPIs,
scores, grades), the morning digest, and the counts behind the reports page."""
