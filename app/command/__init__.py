"""Emergency command and the 7x24 duty office (平急一体): the duty roster, incidents, what lies inside their
area, resources, roll-call and notification, the situation log and reports."""
