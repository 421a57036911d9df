"""NGSI-LD context broker over Nagar's store (ETSI GS CIM 009 V1.6.1). See README.md in this folder."""
