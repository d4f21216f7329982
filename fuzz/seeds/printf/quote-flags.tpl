{{ printf "%+q %#q %#U" "é" "ab" 65 }}
