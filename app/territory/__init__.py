"""The territory: boundary versions and the layers they hold, the ownership index and the geocoder,
planners' coverage edits and drafts, and siting new "X" stations."""
