//! The storage interface: catalog documents and machines, behind one trait with one implementation per backend.
