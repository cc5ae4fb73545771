
BprobabilitiesJ(q4‘=SžN=aXš=îL>g—=9¢=Î‹›=å^'=I‹³>O=