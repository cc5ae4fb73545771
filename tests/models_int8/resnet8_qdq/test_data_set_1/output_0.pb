
BprobabilitiesJ(¡’=&9N=s1š=:E>bµ=¸%¢=À›=Œó&=©³>d™=