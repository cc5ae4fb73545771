
BlogitsJ(5Í…ÁuP{ÀâHAË²hÀ÷†Áöc_Á rÁ®Þ)Á rÀ—rJÁ