BclassJjM¾hO$?ÕŒé?ˆ“6¿
’¬?q¿