
BlogitsJ(_ЪЖЅЂXxјYкRAjЗkј√«ЗЅ!|_ЅнaqЅМы)ЅQ9pј8JЅ