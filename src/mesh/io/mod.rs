//! Reading and writing mesh files (STL, OBJ, 3MF).
