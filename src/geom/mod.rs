//! Integer 2D geometry for slicing.
