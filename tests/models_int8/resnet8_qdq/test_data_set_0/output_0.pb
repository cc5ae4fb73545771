
BprobabilitiesJ(É•=²6=b¿}==Q(>] j=n¯=(€=¤$=»öÁ>ô=