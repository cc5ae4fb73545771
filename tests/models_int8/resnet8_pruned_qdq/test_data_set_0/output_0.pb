
BprobabilitiesJ(uÌ=ÀìÉ=hYŸ=À*>a†±=È™>\Ó¹=ÿT=õ±>–~§=