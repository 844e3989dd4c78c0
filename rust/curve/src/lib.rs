//! BN254 G1 arithmetic for zkmargin proofs.
