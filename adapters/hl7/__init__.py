"""HL7 v2 ADT over MLLP: parsing, mapping each trigger to contract events, acknowledgements."""
