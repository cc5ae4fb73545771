
BprobabilitiesJ(‘”={=5=µµy=çÝ'>qåj=ÊÈ®=?•|=á$=mDÃ>5b=