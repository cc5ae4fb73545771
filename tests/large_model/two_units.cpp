// Built twice, with -DKILN_TU=1 and 2, both including the same --weights-blob header (-include),
// then linked together: the blob's COMDAT section must link once, and both units must see the same
// symbol. KILN_BLOB names it (NAMESPACE::weights::kiln_weights_NAMESPACE).
#if KILN_TU == 1
const unsigned char* blob_seen_by_unit_2();
int main() { return blob_seen_by_unit_2() == KILN_BLOB ? 0 : 1; }
#else
const unsigned char* blob_seen_by_unit_2() { return KILN_BLOB; }
#endif
