"""v1 wire placeholder"""
